# Run the firmware under the MicroPython Unix port with the simulated IMU.
#
#   micropython unix_sim_main.py [--fast] [--rate HZ] [--spf N] [--noise] [--pitch DEG]
#                                [--loop] [--stopped] [--no-stdin] [--seconds S]
#
# Binary frames go to stdout (protocol v1, docs/PROTOCOL.md); commands are read from
# stdin (binary command frames) unless --no-stdin. Real time by default (samples appear
# as the sensor would produce them); --fast produces them as fast as stdout takes them,
# with a virtual device clock. Exits after the motion script (plus a final status frame)
# unless --loop. If stdout/stdin are a terminal (a pty) they are switched to raw mode.
# Run from firmware_micropython/ or with MICROPYPATH pointing at it.
import sys
import time

import motion
from drv_sim import SimIMU
from link_serial import SerialLink
from streamer import Streamer

USAGE = __doc__ if "__doc__" in globals() else "see unix_sim_main.py"


def parse(argv):
    opts = {
        "fast": False,
        "rate": 100,
        "spf": 4,
        "noise": False,
        "pitch": 0.0,
        "loop": False,
        "stopped": False,
        "stdin": True,
        "seconds": None,
    }
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--fast":
            opts["fast"] = True
        elif a == "--noise":
            opts["noise"] = True
        elif a == "--loop":
            opts["loop"] = True
        elif a == "--stopped":
            opts["stopped"] = True
        elif a == "--no-stdin":
            opts["stdin"] = False
        elif a in ("--rate", "--spf", "--pitch", "--seconds") and i + 1 < len(argv):
            i += 1
            v = float(argv[i])
            opts[a[2:]] = int(v) if a in ("--rate", "--spf") else v
        else:
            sys.stderr.write("unix_sim_main: unknown option %r\n" % a)
            sys.stderr.write(
                "usage: micropython unix_sim_main.py [--fast] [--rate HZ] "
                "[--spf N] [--noise] [--pitch DEG] [--loop] [--stopped] "
                "[--no-stdin] [--seconds S]\n"
            )
            sys.exit(2)
        i += 1
    return opts


def raw_tty(fd):
    """If fd is a terminal (e.g. the pseudo-terminal of `imu-host demo`), make it raw:
    no CR/LF translation of the binary frames, no echo of the host's commands."""
    try:
        import termios

        termios.tcgetattr(fd)  # raises OSError if fd is not a terminal
        termios.setraw(fd)
        return True
    except (ImportError, OSError, AttributeError):
        return False


def main(argv):
    o = parse(argv)
    on_tty = raw_tty(1)
    if o["stdin"]:
        raw_tty(0)
    script = motion.DEFAULT_SCRIPT
    if o["seconds"] is not None:
        script = [("still", o["seconds"])]
    sim = SimIMU(
        script,
        odr_hz=o["rate"],
        realtime=not o["fast"],
        noise=o["noise"],
        pitch_deg=o["pitch"],
        loop=o["loop"],
    )
    link = SerialLink(sys.stdout.buffer, sys.stdin.buffer if o["stdin"] else None, transport_id=2)
    if not o["stdin"]:
        link._poller = None
    clock = None if not o["fast"] else sim.now_us
    s = Streamer(sim, link, spf=o["spf"], clock=clock, autostart=not o["stopped"])

    def finished():
        return sim.done or link.write_errors > 0

    idle = None if o["fast"] else (lambda: time.sleep_ms(1))
    s.run(idle=idle, until=finished)
    if link.write_errors == 0:
        s.send_status(s.clock() & 0x3FFFFFFF)
    try:
        sys.stdout.buffer.flush()
    except (OSError, AttributeError):
        pass
    if on_tty:
        # Linux may discard what the reader has not read yet when a pty's last writer
        # closes: give the host a moment to drain the final frames
        time.sleep_ms(500)


main(sys.argv[1:])
