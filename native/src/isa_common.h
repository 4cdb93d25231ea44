// Headers every kernel_impl.inc instantiation needs. Included before any `#pragma GCC target`, so the library
// code they define is compiled for the baseline ISA and shared safely by all paths.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "half.h"
#include "kernels.h"
#include "namm_kernels.h"
#include "packed_formats.h"
#include "scratch.h"
#include "thread_pool.h"
