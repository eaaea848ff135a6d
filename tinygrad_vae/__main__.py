"""``python -m tinygrad_vae``: the same command line as the ``tinygrad-vae`` script."""

import sys

from tinygrad_vae.vae.cli import main

sys.exit(main())
