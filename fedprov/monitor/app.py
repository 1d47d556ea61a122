"""The script that ``fedprov monitor`` hands to ``streamlit run``.

Streamlit runs this file on every rerun of a browser session; the page
itself is :func:`fedprov.monitor.page.main`.
"""

from __future__ import annotations

import sys

from fedprov.monitor.page import main

main(sys.argv[1:])
