from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = ""
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
ROUNDS_PLAN_TIME_LIMIT_S = 2.0
ROUNDS_PLAN_IN_PROCESS = "sync"
ROUNDS_REPLAN_TIME_LIMIT_S = 1.0
# Serve static files from the apps; tests do not run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# No tile server in tests: the map still draws routes and stops.
ROUNDS_MAP_TILES_URL = ""
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ROUNDS_SMS_BACKEND = "dispatch.notifications.sms.LocmemSmsBackend"
ROUNDS_NOTIFY_IN_PROCESS = "sync"
ROUNDS_NOTIFY_SCHEDULER = "off"
# The test receivers listen on 127.0.0.1.
ROUNDS_WEBHOOK_ALLOW_PRIVATE = True
# Geocoding through a fixed gazetteer: a test never calls a geocoding service.
ROUNDS_GEOCODER = "tests.geocoders.Gazetteer"
ROUNDS_GEOCODER_MIN_DELAY_S = 0.0
