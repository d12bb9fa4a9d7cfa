#include "trace/trace-accel_tcg.h"
