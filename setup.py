"""The optional compiled reader of strict v1 rows (all other metadata is in pyproject.toml).

``optional=True``: where no C compiler is found the build goes on without it, and
``imu_host.io.recording`` reads with its numpy twin (the same values, bit for bit).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[Extension("imu_host.io._strict_csv", ["imu_host/io/_strict_csv.c"], optional=True)]
)
