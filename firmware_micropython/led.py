# Status LED: what the light says.
#   idle (not streaming, or no one connected)  short blink every 2 s
#   connected, not streaming                    on, short off every 2 s
#   streaming                                   blink 2 Hz (on 50 ms, off 450 ms)
#   identify (host sent "identify")             fast blink 10 Hz
import time

IDLE = 0
CONNECTED = 1
STREAMING = 2
IDENTIFY = 3

# state -> (period ms, on ms, invert)
_PATTERNS = ((2000, 60, False), (2000, 100, True), (500, 50, False), (100, 50, False))


class StatusLed:
    def __init__(self, pin, active_high=True, clock_ms=None):
        self.pin = pin  # a machine.Pin / Signal, already created by the caller, or None
        self.active_high = active_high
        self.clock_ms = clock_ms or time.ticks_ms
        self.lit = None

    def update(self, state):
        if self.pin is None:
            return
        period, on_ms, invert = _PATTERNS[state]
        lit = (self.clock_ms() % period) < on_ms  # type: ignore[operator]
        if invert:
            lit = not lit
        if lit != self.lit:
            self.lit = lit
            self.pin.value(1 if lit == self.active_high else 0)
