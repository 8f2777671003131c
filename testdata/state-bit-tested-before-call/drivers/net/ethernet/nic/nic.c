// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "state-bit-tested-before-call": a NIC whose firmware
 * reset path runs only while the interface is marked as resetting, and
 * takes the queue lock and tears the queues down. The teardown cancels
 * the tx-timeout work only when no firmware reset is under way (the ionic
 * shape), and that work takes the queue lock: on the reset path the
 * cancel never runs, so there is no wait under the lock.
 */
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/bitops.h>
#include <linux/pci.h>

enum nic_state_flags {
	NIC_F_UP,
	NIC_F_FW_RESET,
	NIC_F_STATE_SIZE,
};

struct nic_lif {
	struct mutex queue_lock;
	struct work_struct tx_timeout_work;
	DECLARE_BITMAP(state, NIC_F_STATE_SIZE);
	unsigned int nqueues;
};

static void nic_tx_timeout_work(struct work_struct *work)
{
	struct nic_lif *lif = container_of(work, struct nic_lif, tx_timeout_work);

	mutex_lock(&lif->queue_lock);
	lif->nqueues = 0;
	mutex_unlock(&lif->queue_lock);
}

static void nic_lif_deinit(struct nic_lif *lif)
{
	if (!test_bit(NIC_F_FW_RESET, lif->state))
		cancel_work_sync(&lif->tx_timeout_work);
	clear_bit(NIC_F_UP, lif->state);
}

void nic_reset_prepare(struct nic_lif *lif)
{
	if (!test_bit(NIC_F_FW_RESET, lif->state))
		return;

	mutex_lock(&lif->queue_lock);
	nic_lif_deinit(lif);
	mutex_unlock(&lif->queue_lock);
}

void nic_lif_init(struct nic_lif *lif)
{
	mutex_init(&lif->queue_lock);
	INIT_WORK(&lif->tx_timeout_work, nic_tx_timeout_work);
	set_bit(NIC_F_UP, lif->state);
}
