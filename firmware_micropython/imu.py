# IMU detection and the driver interface shared by all drivers.
#
# A driver takes a bus object (machine.I2C / SoftI2C or anything with
# readfrom_mem_into / writeto_mem) and never creates pins. Interface:
#   .name, .sensor_id, .who_am_i, .channels (6 = accel xyz + gyro xyz)
#   .odr_mhz, .period_us, .accel_fs_g, .gyro_fs_dps, .accel_g_per_lsb, .gyro_dps_per_lsb
#   .overflows                      FIFO overflow events so far
#   .fifo                           True if samples queue in the sensor (no loss while busy)
#   .overflow                       set by the driver when samples were lost, the streamer clears it
#   .max_odr_hz, .sample_bytes      fastest rate, I2C bytes read per sample (rate limits)
#   configure(odr_hz, accel_fs_g, gyro_fs_dps)   may allocate; sets the fields above
#   available() -> int               samples ready now, at most (allocation-free)
#   read_into(buf, off) -> bool      one sample as 6 int16 LE: ax ay az gx gy gz, False if
#                                    no complete sample is left (allocation-free)
#   drain_ok() -> bool               after a drain: False = the FIFO overran meanwhile, the
#                                    batch just read may be misaligned and must be dropped
#   flush(), sleep(), recover()      discard pending / power down / re-initialise
#   selftest_regs(), selftest_fifo() register read-back, FIFO pattern / tag parity checks
try:
    from micropython import const
except ImportError:

    def const(x):  # type: ignore[misc]  # CPython: no micropython module
        return x


MPU_ADDRS = (0x68, 0x69)
LSM_ADDRS = (0x6A, 0x6B)
_MPU_WHO_AM_I = const(0x75)
_LSM_WHO_AM_I = const(0x0F)


class IMUNotFound(Exception):
    pass


def _read_id(bus, addr, reg, one):
    try:
        bus.readfrom_mem_into(addr, reg, one)
    except OSError:
        return None
    return one[0]


def detect(bus, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500, addr=None, fifo=True):
    """Find a supported IMU on `bus` by WHO_AM_I and return a configured driver.

    fifo=False makes the LSM6 family use data-ready polling instead of its FIFO."""
    import drv_lsm6ds
    import drv_mpu6050

    one = bytearray(1)
    seen = []
    for a in MPU_ADDRS:
        if addr is not None and a != addr:
            continue
        who = _read_id(bus, a, _MPU_WHO_AM_I, one)
        if who is None:
            seen.append("0x%02x: no answer" % a)
            continue
        if drv_mpu6050.model(who) is not None:
            # a compatible part (e.g. a GY-521 clone die) is named with the ID it gave
            # ("MPU-6050~0x98"); nothing is printed: stdout may be the binary link
            return drv_mpu6050.MPU6xxx(bus, a, who, odr_hz, accel_fs_g, gyro_fs_dps)
        seen.append("0x%02x: WHO_AM_I(0x%02x)=0x%02x" % (a, _MPU_WHO_AM_I, who))
    for a in LSM_ADDRS:
        if addr is not None and a != addr:
            continue
        who = _read_id(bus, a, _LSM_WHO_AM_I, one)
        if who is None:
            seen.append("0x%02x: no answer" % a)
            continue
        if who in drv_lsm6ds.MODELS:
            return drv_lsm6ds.LSM6DSx(bus, a, who, odr_hz, accel_fs_g, gyro_fs_dps, fifo)
        seen.append("0x%02x: WHO_AM_I(0x%02x)=0x%02x" % (a, _LSM_WHO_AM_I, who))
    raise IMUNotFound(
        "no supported IMU (MPU-6050/6500/9250/9255 or compatible 0x98, LSM6DS3/DSL/DSO) on I2C bus %r: %s"
        % (bus, "; ".join(seen))
    )
