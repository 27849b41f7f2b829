// CBZip2: the system header (libbz2 ships no pkg-config file, so the module map links it).
#pragma once
#include <stdio.h>
#include <bzlib.h>
