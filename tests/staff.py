"""Staff users in one of the two roles (mappings/roles.py), as an admin makes them: staff status
ticked and the role's group added."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

PASSWORD = "pw-unused-1"


def staff_member(name: str, group: str, password: str = PASSWORD):
    user = get_user_model().objects.create_user(
        name, f"{name}@example.com", password, is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    return user


def logged_in(client, name: str, group: str):
    """``client`` logged in as a new staff member of ``group``."""
    client.force_login(staff_member(name, group))
    return client
