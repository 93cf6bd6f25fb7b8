# Board configuration: edit this file, copy it with the rest (see README.md).
# None means "use the board's default" (see main.py: BOARD_DEFAULTS).

# I2C bus to the IMU
I2C_ID = None  # ESP32: 0, Pico W: 0 (GP4/GP5)
I2C_SCL = None  # ESP32 DevKit: 22, Pico W: 5 (GP5)
I2C_SDA = None  # ESP32 DevKit: 21, Pico W: 4 (GP4)
I2C_FREQ = 400000
IMU_ADDR = None  # None = probe 0x68, 0x69 (MPU) and 0x6A, 0x6B (LSM6)

# sampling (the sensor picks the nearest rate it supports: MPU 1000/(1+n) Hz, LSM6 26..416 Hz)
ODR_HZ = 100  # 50..400
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
UART_ID = 1
UART_BAUD = 115200
UART_TX = None
UART_RX = None
AUTOSTART = True  # stream from power-on; the host can still send stop/start

# status LED: pin name/number, or None for the board default ("LED" on Pico W, 2 on
# ESP32 DevKit), or False for no LED
LED_PIN = None
LED_ACTIVE_HIGH = True

# battery voltage on an ADC pin through a divider (None = not measured)
BATTERY_ADC_PIN = None
BATTERY_DIVIDER = 2.0
