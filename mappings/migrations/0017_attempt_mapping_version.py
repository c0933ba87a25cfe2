from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mappings', '0016_data_points'),
    ]

    operations = [
        migrations.AddField(
            model_name='deliveryattempt',
            name='mapping_version',
            field=models.PositiveIntegerField(blank=True, help_text='Mapping set version that produced request_body (recorded on replays)', null=True),
        ),
    ]
