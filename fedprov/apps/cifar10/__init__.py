"""The CIFAR-10 federation: data, partitioners, models, and the Flower apps.

``fedprov run cifar10`` runs it in one process; ``flower_app/`` contains the
``pyproject.toml`` for ``flwr run``. The Flower components are
:data:`fedprov.apps.cifar10.server_app.app` and
:data:`fedprov.apps.cifar10.client_app.app`.
"""
