# Numbered 0016: 0015_lookups comes from another branch; the lead chains the two.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mappings', '0015_lookups'),
    ]

    operations = [
        migrations.AddField(
            model_name='delivery',
            name='data_points',
            field=models.PositiveIntegerField(default=0, help_text='Braze data points the body sent spends once delivered'),
        ),
        migrations.AddField(
            model_name='delivery',
            name='data_points_saved',
            field=models.PositiveIntegerField(default=0, help_text='Data points not spent: the unchanged attributes left out'),
        ),
    ]
