"""gunicorn settings (`gunicorn -c python:app.web.gunicorn_conf "app:create_app()"`)."""

from app.config import Settings

_settings = Settings.from_env()

bind = f"0.0.0.0:{_settings.web_port}"
workers = _settings.web_workers
# WEB_THREADS answer requests; each live stream (WEB_MAX_STREAMS at most, see app/web/live.py) holds a thread of
# its own on top of them, so open viewers never take the threads that answer Jira's webhooks.
threads = _settings.web_threads + _settings.web.max_streams
# gthread: plain threads. Never gevent/eventlet: they patch the stdlib under the Temporal client's
# asyncio loop. The app is created in each worker after the fork (no preload) because a Temporal
# client does not survive fork.
worker_class = "gthread"
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
