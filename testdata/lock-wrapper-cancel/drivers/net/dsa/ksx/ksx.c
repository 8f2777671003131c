// SPDX-License-Identifier: GPL-2.0
/*
 * The driver wraps its register lock in ksx_lock()/ksx_unlock(). Teardown
 * takes it through the wrapper and cancel-syncs the MIB work, whose handler
 * takes it through the same wrapper: the wrappers are learned from their
 * bodies (they return holding / having released the lock), never listed.
 */
#include <linux/mutex.h>
#include <linux/workqueue.h>

struct ksx {
	struct mutex regmap_lock;
	struct delayed_work mib_read;
	u64 counters[32];
};

static void ksx_lock(struct ksx *ks)
{
	mutex_lock(&ks->regmap_lock);
}

static void ksx_unlock(struct ksx *ks)
{
	mutex_unlock(&ks->regmap_lock);
}

static void ksx_mib_read_work(struct work_struct *work)
{
	struct ksx *ks = container_of(work, struct ksx, mib_read.work);

	ksx_lock(ks);
	ks->counters[0]++;
	ksx_unlock(ks);
	schedule_delayed_work(&ks->mib_read, HZ);
}

void ksx_teardown(struct ksx *ks)
{
	ksx_lock(ks);
	cancel_delayed_work_sync(&ks->mib_read);
	ksx_unlock(ks);
}

void ksx_setup(struct ksx *ks)
{
	mutex_init(&ks->regmap_lock);
	INIT_DELAYED_WORK(&ks->mib_read, ksx_mib_read_work);
	schedule_delayed_work(&ks->mib_read, HZ);
}
