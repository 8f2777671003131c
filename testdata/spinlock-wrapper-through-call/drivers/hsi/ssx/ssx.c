// SPDX-License-Identifier: GPL-2.0
/*
 * The spinlock, taken through the driver's own lock wrapper, is held
 * around a call of a release helper that cancel-syncs
 * the transmit work only on its last-reference path, which the locked
 * caller never takes. A sleeping wait reached through calls under a
 * spinlock would itself sleep in atomic context: waitcheck believes it
 * only when written in the locking function, so this is not reported.
 */
#include <linux/spinlock.h>
#include <linux/workqueue.h>

struct ssx {
	spinlock_t lock;
	struct work_struct work;
	int refs;
	int state;
};

static void ssx_xmit_work(struct work_struct *work)
{
	struct ssx *ssx = container_of(work, struct ssx, work);

	spin_lock_bh(&ssx->lock);
	ssx->state = 1;
	spin_unlock_bh(&ssx->lock);
}

static inline void ssx_full_lock(struct ssx *ssx)
{
	spin_lock_bh(&ssx->lock);
}

static inline void ssx_full_unlock(struct ssx *ssx)
{
	spin_unlock_bh(&ssx->lock);
}

static void ssx_put(struct ssx *ssx)
{
	if (--ssx->refs == 0)
		cancel_work_sync(&ssx->work);
}

void ssx_drop_extra_ref(struct ssx *ssx)
{
	ssx_full_lock(ssx);
	ssx_put(ssx);
	ssx_full_unlock(ssx);
}

void ssx_init(struct ssx *ssx)
{
	spin_lock_init(&ssx->lock);
	ssx->refs = 2;
	INIT_WORK(&ssx->work, ssx_xmit_work);
}
