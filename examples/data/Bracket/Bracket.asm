# Bracket assembly: the main file lists its parts (paths relative to this folder)
ASSEMBLY Bracket
PART base  parts/base.inp  AT 0 0 0
PART arm   parts/arm.inp   AT 0 35 10
