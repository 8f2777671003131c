/*
 * Four lines of header comment that the patch
 * in offset.patch did not know about.
 */
int toy_shift_a(void)
{
	return 1;
}

int toy_shift_b(void)
{
	return 22;
}

int toy_shift_c(void)
{
	return 3;
}
