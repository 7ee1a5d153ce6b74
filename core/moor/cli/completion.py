"""``moor completion bash|zsh|fish``: the shell's completion script, as ``docker completion`` prints its own."""

from __future__ import annotations

import click

SHELLS = ("bash", "fish", "zsh")


@click.group("completion", invoke_without_command=True)
@click.pass_context
def completion(ctx: click.Context) -> None:
    """Generate the autocompletion script for moor for the specified shell.

    See each sub-command's help for details on how to use the generated script."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _script(shell: str) -> str:
    from click.shell_completion import get_completion_class

    from moor.cli.main import cli

    completer = get_completion_class(shell)
    assert completer is not None
    return completer(cli, {}, "moor", "_MOOR_COMPLETE").source()


def _command(shell: str, how: str) -> click.Command:
    @click.command(shell, help=f"Generate the autocompletion script for {shell}.\n\n{how}")
    def generate() -> None:
        click.echo(_script(shell), nl=False)

    return generate


completion.add_command(_command("bash", "To load completions in your current shell session:\n\n"
                                        "  source <(moor completion bash)"))
completion.add_command(_command("zsh", "To load completions in your current shell session:\n\n"
                                       "  source <(moor completion zsh)"))
completion.add_command(_command("fish", "To load completions in your current shell session:\n\n"
                                        "  moor completion fish | source"))

__all__ = ["completion"]
