"""dpkit e2e shim: Debian ships PyCryptodome as `Cryptodome` (python3-pycryptodome);
Flower imports it as `Crypto`. Alias one to the other. Not Flower code."""
import sys

import Cryptodome

sys.modules[__name__] = Cryptodome
