#include "trace/trace-backends.h"
