#include "trace/trace-crypto.h"
