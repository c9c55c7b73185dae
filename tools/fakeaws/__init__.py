"""fake-aws: a wire-level emulator of the AWS operations Nova Storyteller uses.

Bedrock Runtime (Converse, ConverseStream, InvokeModel for image models,
ApplyGuardrail) and Polly (SynthesizeSpeech, DescribeVoices) are served on one
port, with SigV4 verification and a small control API for fault injection.
Standard library only, so it runs with Debian's /usr/bin/python3.
"""
