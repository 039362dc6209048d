import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
application = get_wsgi_application()

# Without a broker, the web process runs the notifications' minute job (no-op with one, or when off).
from dispatch.notifications.runner import scheduler_start_in_process  # noqa: E402

scheduler_start_in_process()
