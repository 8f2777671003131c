// SPDX-License-Identifier: GPL-2.0
/*
 * Reset takes the protocol spinlock through the driver's lock wrapper
 * and cancel-syncs the transmit work right there, under it; the transmit work takes the same spinlock. A
 * cycle (and a sleep in atomic context) written in one function.
 */
#include <linux/spinlock.h>
#include <linux/workqueue.h>

struct ssx {
	spinlock_t lock;
	struct work_struct work;
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

void ssx_reset(struct ssx *ssx)
{
	ssx_full_lock(ssx);
	ssx->state = 0;
	cancel_work_sync(&ssx->work);
	ssx_full_unlock(ssx);
}

void ssx_init(struct ssx *ssx)
{
	spin_lock_init(&ssx->lock);
	INIT_WORK(&ssx->work, ssx_xmit_work);
}
