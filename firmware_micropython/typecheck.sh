#!/bin/sh
# Type-check the firmware against MicroPython board stubs from PyPI with mypy:
#   sh firmware_micropython/typecheck.sh          # ESP32 and Pico W (rp2) stubs
#   PORTS=esp32 sh firmware_micropython/typecheck.sh
# The stubs (micropython-esp32-stubs, micropython-rp2-rpi_pico_w-stubs) replace the
# standard library's stubs and put top-level packages such as requests/ and stdlib/
# next to them, so they are installed with `pip --target` into
# firmware_micropython/.stubs/<port>, not into the project's environment.
# Needs: python with mypy (the project's .venv: pip install -e '.[test]' mypy).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
py=${PYTHON:-$root/.venv/bin/python}
[ -x "$py" ] || py=python3
ver=${STUBS_VERSION:-1.29.0.post1}
files="config.py drv_lsm6ds.py drv_mpu6050.py imu.py led.py link_ble.py link_serial.py main.py selftest.py streamer.py wire.py"
for port in ${PORTS:-esp32 rp2}; do
    case $port in
        esp32) pkg=micropython-esp32-stubs ;;
        rp2) pkg=micropython-rp2-rpi_pico_w-stubs ;;
        *) echo "unknown port $port" >&2; exit 2 ;;
    esac
    dir=$here/.stubs/$port
    if [ ! -f "$dir/machine.pyi" ]; then
        "$py" -m pip install -q --disable-pip-version-check --target "$dir" "$pkg==$ver"
    fi
    ini=$(mktemp)
    cat > "$ini" <<INI
[mypy]
python_version = 3.11
custom_typeshed_dir = $dir
mypy_path = $dir
check_untyped_defs = True
warn_unused_ignores = True
cache_dir = $here/.stubs/.mypy_cache_$port

[mypy-machine,bluetooth,vfs,rp2,network,_mpy_shed.*,stdlib.*]
ignore_errors = True
INI
    echo "mypy: firmware against $pkg $ver"
    (cd "$here" && "$py" -m mypy --config-file "$ini" $files)
    rm -f "$ini"
done
