// SPDX-License-Identifier: GPL-2.0
/*
 * The same four lock families, each released before the synchronous
 * cancel of the work whose handler takes it: no cycle.
 */
#include <linux/rwsem.h>
#include <linux/semaphore.h>
#include <linux/rtnetlink.h>
#include <net/devlink.h>
#include <linux/workqueue.h>

struct fam {
	struct rw_semaphore cfg_rwsem;
	struct semaphore fw_sem;
	struct devlink *devlink;
	struct work_struct cfg_work;
	struct work_struct fw_work;
	struct work_struct link_work;
	struct work_struct health_work;
};

static void fam_cfg_work(struct work_struct *work)
{
	struct fam *fam = container_of(work, struct fam, cfg_work);

	down_read(&fam->cfg_rwsem);
	up_read(&fam->cfg_rwsem);
}

static void fam_fw_work(struct work_struct *work)
{
	struct fam *fam = container_of(work, struct fam, fw_work);

	down(&fam->fw_sem);
	up(&fam->fw_sem);
}

static void fam_link_work(struct work_struct *work)
{
	rtnl_lock();
	rtnl_unlock();
}

static void fam_health_work(struct work_struct *work)
{
	struct fam *fam = container_of(work, struct fam, health_work);

	devl_lock(fam->devlink);
	devl_unlock(fam->devlink);
}

void fam_reconfigure(struct fam *fam)
{
	down_write(&fam->cfg_rwsem);
	up_write(&fam->cfg_rwsem);
	cancel_work_sync(&fam->cfg_work);
}

void fam_fw_reset(struct fam *fam)
{
	down(&fam->fw_sem);
	up(&fam->fw_sem);
	cancel_work_sync(&fam->fw_work);
}

void fam_close(struct fam *fam)
{
	rtnl_lock();
	rtnl_unlock();
	cancel_work_sync(&fam->link_work);
}

void fam_devlink_reload(struct fam *fam)
{
	devl_lock(fam->devlink);
	devl_unlock(fam->devlink);
	cancel_work_sync(&fam->health_work);
}

void fam_init(struct fam *fam)
{
	init_rwsem(&fam->cfg_rwsem);
	sema_init(&fam->fw_sem, 1);
	INIT_WORK(&fam->cfg_work, fam_cfg_work);
	INIT_WORK(&fam->fw_work, fam_fw_work);
	INIT_WORK(&fam->link_work, fam_link_work);
	INIT_WORK(&fam->health_work, fam_health_work);
}
