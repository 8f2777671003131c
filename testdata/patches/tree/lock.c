// SPDX-License-Identifier: GPL-2.0
/* Toy driver used by waitcheck's patch tests. */
#include <linux/mutex.h>
#include <linux/workqueue.h>

static DEFINE_MUTEX(toy_lock);
static int toy_count;

static void toy_reset(void)
{
	toy_count = 0;
}

int toy_probe(void)
{
	mutex_lock(&toy_lock);
	toy_count++;
	mutex_unlock(&toy_lock);
	return 0;
}

void toy_remove(void)
{
	mutex_lock(&toy_lock);
	toy_reset();
	mutex_unlock(&toy_lock);
}
