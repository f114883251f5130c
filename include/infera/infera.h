// Umbrella header for the public API.
#pragma once

#include "infera/dtype.h"
#include "infera/error.h"
#include "infera/session.h"
#include "infera/tensor.h"
#include "infera/tensor_io.h"
