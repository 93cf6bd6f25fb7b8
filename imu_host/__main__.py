"""``python -m imu_host``: the same as the ``imu-host`` command."""

import sys

from imu_host.cli.main import main

sys.exit(main())
