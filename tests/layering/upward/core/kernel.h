// A planted upward include: the layering check must reject it (tests/CMakeLists.txt, layering.detects_upward).
#pragma once
#include "train/trainer.h"
