// SPDX-License-Identifier: Apache-2.0
// A planted layering violation: the foundation including the Wal above it.
// LayeringCheckCatchesUpwardInclude runs cmake/check_layering.cmake here and
// expects it to name this file and this include.
#pragma once
#include "src/wal/wal_impl.h"
