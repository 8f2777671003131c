// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "tasklet-kill-under-lock": a keypad polls its
 * matrix from a tasklet (kicked by its IRQ) whose callback takes the
 * state spinlock. Closing the device kills the tasklet with tasklet_kill() while holding that
 * spinlock: if the callback is running on another CPU it spins on the
 * lock, and tasklet_kill() waits for it.
 */
#include <linux/interrupt.h>
#include <linux/spinlock.h>
#include <linux/input.h>

struct kp_priv {
	spinlock_t lock;
	struct tasklet_struct poll_tasklet;
	unsigned long last_keys;
	bool open;
};

static void kp_poll(struct tasklet_struct *t)
{
	struct kp_priv *kp = from_tasklet(kp, t, poll_tasklet);

	spin_lock(&kp->lock);
	kp->last_keys = 0;
	if (kp->open)
		tasklet_schedule(&kp->poll_tasklet);
	spin_unlock(&kp->lock);
}

void kp_open(struct kp_priv *kp)
{
	spin_lock_init(&kp->lock);
	tasklet_setup(&kp->poll_tasklet, kp_poll);
	kp->open = true;
	tasklet_schedule(&kp->poll_tasklet);
}

void kp_close(struct kp_priv *kp)
{
	unsigned long flags;

	spin_lock_irqsave(&kp->lock, flags);
	kp->open = false;
	tasklet_kill(&kp->poll_tasklet);
	spin_unlock_irqrestore(&kp->lock, flags);
}
