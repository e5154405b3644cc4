"""Optional integrations with other engines (each needs its extra; nothing imports them eagerly).

* :mod:`rankiqa.integrations.ray`: scoring on a Ray cluster (``pip install 'rankiqa[ray]'``).
"""
