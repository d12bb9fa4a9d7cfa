#include "trace/trace-ui.h"
