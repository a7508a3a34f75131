"""gunicorn settings, read from the working directory: `gunicorn wsgi:app`.

A few processes with a few threads each: requests spend part of their time waiting
for the database, and threads let a process serve another one meanwhile; keep-alive
spares phones and proxies a new connection per request.
"""
import multiprocessing

bind = "127.0.0.1:8000"
workers = multiprocessing.cpu_count() * 2
worker_class = "gthread"
threads = 4
keepalive = 5


def on_starting(server):
    """What gunicorn refuses by itself (a path over 4 KB, a header over 8 KB, a
    malformed request) is answered as a problem document, like everything else."""
    from app.serving import install_problem_pages

    install_problem_pages()
