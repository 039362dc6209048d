import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup(set_prefix=False)  # as get_wsgi_application() does, before the handler loads any middleware

from config.handlers import RoundsHandler  # noqa: E402

application = RoundsHandler()

# Without a broker, the web process runs the notifications' minute job (no-op with one, or when off).
from dispatch.notifications.runner import scheduler_start_in_process  # noqa: E402

scheduler_start_in_process()
