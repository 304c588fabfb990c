/* The embedded default policy: policy/default.yaml, NUL-terminated. */
	.section .rodata
	.global ng_default_policy_yaml
	.type ng_default_policy_yaml, @object
	.balign 8
ng_default_policy_yaml:
	.incbin "policy/default.yaml"
	.byte 0
ng_default_policy_yaml_end:
	.global ng_default_policy_yaml_len
	.type ng_default_policy_yaml_len, @object
	.balign 8
ng_default_policy_yaml_len:
	.quad ng_default_policy_yaml_end - ng_default_policy_yaml - 1
	.section .note.GNU-stack,"",@progbits
