# Board configuration: edit this file, copy it with the rest (see README.md).
# None means "use the board's default" (see main.py: BOARD_DEFAULTS).

# I2C bus to the IMU
# defaults per board (main.py BOARD_DEFAULTS): ESP32 DevKit SCL 22 / SDA 21,
# ESP32-S3 SCL 9 / SDA 8, ESP32-C3 SCL 7 / SDA 6, Pico W GP5 / GP4
I2C_ID = None
I2C_SCL = None
I2C_SDA = None
I2C_FREQ = 400000
IMU_ADDR = None  # None = probe 0x68, 0x69 (MPU) and 0x6A, 0x6B (LSM6)

# sampling (the sensor picks the nearest rate it supports: MPU 1000/(1+n) Hz, LSM6 26..416 Hz)
ODR_HZ = 100  # 50..400 (set_rate is limited by sensor, I2C bus and link: see README)
ACCEL_FS_G = 4  # 2, 4, 8, 16
GYRO_FS_DPS = 500  # 250, 500, 1000, 2000
# body axis i = sign * sensor axis |n| (1 = X, 2 = Y, 3 = Z). Strap it so that the
# sensor +X points along the thigh toward the knee and keep (1, 2, 3); otherwise map here.
AXIS_MAP = (1, 2, 3)

# transport: "ble" (Nordic UART Service), "usb" (the REPL's USB serial), "uart", or
# "auto" (BLE on boards that have it, else USB)
TRANSPORT = "auto"
SAMPLES_PER_FRAME = 4  # BLE: reduced automatically to fit the negotiated MTU
BLE_NAME = "KneeRoll"
BLE_NAME_ID = True  # advertise "KneeRoll-A1B2C3" (last 3 bytes of machine.unique_id())
# UART: None = the board's safe defaults (ESP32 UART1 TX 25 / RX 26, never the flash
# pins 9/10 MicroPython would pick; S3 17/18; C3 4/5; Pico W UART0 GP0/GP1)
UART_ID = None
UART_BAUD = 115200
UART_TX = None
UART_RX = None
AUTOSTART = True  # stream from power-on; the host can still send stop/start
BACKFILL_S = 30  # keep this many seconds of samples while no host takes them (RAM!)
SELFTEST = True  # boot self-test (registers, |g| at rest, FIFO), reported to the host
WDT_MS = 5000  # machine.WDT timeout (0 = off); fed by the sample loop

# power: after IDLE_AFTER_MIN minutes with nobody connected (BLE), stop sampling and
# advertise slowly; a connection or WAKE_PIN (button to GND) wakes it. 0 = never idle.
IDLE_AFTER_MIN = 10
IDLE_POLL_MS = 200
IDLE_LIGHTSLEEP = False  # machine.lightsleep between idle polls (not with BLE on all ports)
WAKE_PIN = None

# status LED: pin name/number, or None for the board default ("LED" on Pico W, 2 on
# ESP32 DevKit), or False for no LED
LED_PIN = None
LED_ACTIVE_HIGH = True

# battery voltage on an ADC pin through a divider (None = not measured); "VSYS" on a
# Pico W reads VSYS/3 on GPIO29 (shared with the radio's SPI clock, handled)
BATTERY_ADC_PIN = None
BATTERY_DIVIDER = 2.0
