"""The project's routes plus one API view that crashes, to test the 500 answer."""

from django.urls import path

from integration_admin.urls import handler400, handler403, handler404, handler500, urlpatterns


def _crash(request):
    raise RuntimeError("boom: an unexpected bug")


urlpatterns = [*urlpatterns, path("api/v1/crash/", _crash)]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
