// SPDX-License-Identifier: Apache-2.0
/*
 * bench-tiny: the smallest program the exec storm can run. Static, no libc,
 * no dynamic loader: exec cost is the kernel's, not ld.so's.
 * Built with -static -nostdlib -ffreestanding (tests/bench/bench.mk).
 */
void _start(void) __attribute__((noreturn, used));

void _start(void)
{
#if defined(__x86_64__)
	__asm__ volatile("mov $231, %eax\n\t" /* exit_group */
			 "xor %edi, %edi\n\t"
			 "syscall");
#elif defined(__aarch64__)
	__asm__ volatile("mov x8, #94\n\t" /* exit_group */
			 "mov x0, #0\n\t"
			 "svc #0");
#else
#error "bench-tiny: add exit_group for this architecture"
#endif
	__builtin_unreachable();
}
