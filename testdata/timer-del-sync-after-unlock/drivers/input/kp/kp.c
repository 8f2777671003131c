// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "timer-del-sync-after-unlock": a keypad polls its
 * matrix from a timer whose callback takes the state spinlock. Closing
 * the device clears the open flag under the lock (so the callback does
 * not re-arm), then stops the timer after unlocking: no wait under it.
 */
#include <linux/timer.h>
#include <linux/spinlock.h>
#include <linux/input.h>

struct kp_priv {
	spinlock_t lock;
	struct timer_list poll_timer;
	unsigned long last_keys;
	bool open;
};

static void kp_poll(struct timer_list *t)
{
	struct kp_priv *kp = from_timer(kp, t, poll_timer);

	spin_lock(&kp->lock);
	kp->last_keys = 0;
	if (kp->open)
		mod_timer(&kp->poll_timer, jiffies + HZ / 50);
	spin_unlock(&kp->lock);
}

void kp_open(struct kp_priv *kp)
{
	spin_lock_init(&kp->lock);
	timer_setup(&kp->poll_timer, kp_poll, 0);
	kp->open = true;
	mod_timer(&kp->poll_timer, jiffies + HZ / 50);
}

void kp_close(struct kp_priv *kp)
{
	unsigned long flags;

	spin_lock_irqsave(&kp->lock, flags);
	kp->open = false;
	spin_unlock_irqrestore(&kp->lock, flags);
	del_timer_sync(&kp->poll_timer);
}
