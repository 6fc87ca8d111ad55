"""Partner levels in practice: requirements verified by managers, mid-year upgrades and the annual qualification.

It sits above billing (it reads the partners' attributed revenue) and above partners (it writes
their level records): billing never calls it, it listens for the purchases billing records.
"""
