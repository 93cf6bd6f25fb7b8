"""imu-host: count lying knee rolls per side from a thigh-worn IMU and flag fast drops.

Importing this package loads numpy only; serial and BLE libraries are imported by
the ``imu_host.transport`` package when a live session asks for them.
"""

__version__ = "0.1.0"
