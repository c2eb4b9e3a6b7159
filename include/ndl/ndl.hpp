/// @file ndl.hpp
/// The umbrella header of ndlaunch: include this one.
#pragma once

#include "ndl/config.hpp"
#include "ndl/device.hpp"
#include "ndl/error.hpp"
#include "ndl/event.hpp"
#include "ndl/kernel/atomic.hpp"
#include "ndl/kernel/barrier.hpp"
#include "ndl/kernel/group.hpp"
#include "ndl/kernel/item.hpp"
#include "ndl/kernel/local_accessor.hpp"
#include "ndl/kernel/memory_enums.hpp"
#include "ndl/kernel/nd_item.hpp"
#include "ndl/kernel/private_array.hpp"
#include "ndl/launch.hpp"
#include "ndl/memory/array.hpp"
#include "ndl/memory/usm.hpp"
#include "ndl/memory/view.hpp"
#include "ndl/nd_range.hpp"
#include "ndl/queue.hpp"
#include "ndl/range.hpp"
