// Self-supervised methods in one include: BYOL, SimCLR, DINO (and their ER-bound variants), DUET and
// H-SSL on the Method interface, with their heads and losses, and the `ssl` training task (ssl_task.h);
// the EMA scaling rule lives in training/ema_scaling.h.
#pragma once

#include "ssl/byol.h"
#include "ssl/byol_loss.h"
#include "ssl/dino.h"
#include "ssl/dino_method.h"
#include "ssl/duet.h"
#include "ssl/er_bound.h"
#include "ssl/heads.h"
#include "ssl/hssl.h"
#include "ssl/log_bessel.h"
#include "ssl/method.h"
#include "ssl/nt_xent.h"
#include "ssl/simclr.h"
#include "ssl/ssl_task.h"
#include "ssl/vmf_entropy.h"
#include "training/ema_scaling.h"
