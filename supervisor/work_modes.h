/* work_modes.h: the three worker modes of SPEC section 5 (exec, stream, batch). */
#ifndef JOBSYNC_WORK_MODES_H
#define JOBSYNC_WORK_MODES_H

#include "config/config.h"
#include "supervisor/work.h"

extern const struct mode_ops mode_exec_ops;   /* supervisor/mode_exec.c */
extern const struct mode_ops mode_stream_ops; /* supervisor/mode_stream.c */
extern const struct mode_ops mode_batch_ops;  /* supervisor/mode_batch.c */

static inline const struct mode_ops *work_mode_ops(enum config_mode mode)
{
	return mode == MODE_STREAM ? &mode_stream_ops
	       : mode == MODE_BATCH ? &mode_batch_ops : &mode_exec_ops;
}

#endif
