"""System information: what the *Informations système* page and ``doctor`` report.

* :mod:`.report` runs every plugin's ``medshake_system_checks`` concurrently and groups them;
* :mod:`.folders`, :mod:`.mail_checks`, :mod:`.reachability`, :mod:`.scheduler` are the host's
  own checks (registered by ``default_plugins/system_checks.py``);
* :mod:`.advice` builds the sudoers lines and systemd snippets that apply.
"""

from medshake_bridge.sysinfo.report import CheckGroup, SystemReport, run_system_checks
from medshake_bridge.sysinfo.scheduler import scheduler_status

__all__ = ["CheckGroup", "SystemReport", "run_system_checks", "scheduler_status"]
