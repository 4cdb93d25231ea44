/** Chat templates (Jinja, as transformers renders them) through `@huggingface/jinja`. */
import { Template } from '@huggingface/jinja';

export type ChatMessage = { role: string; content: string };

/** A compiled chat template plus the special-token strings templates commonly refer to. */
export class ChatTemplate {
  private readonly template: Template;

  constructor(source: string, private readonly specials: Record<string, string>, origin: string) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new Error(`${origin}: chat_template does not parse (${(err as Error).message})`);
    }
  }

  render(messages: ChatMessage[], addGenerationPrompt: boolean): string {
    return this.template.render({ ...this.specials, messages, add_generation_prompt: addGenerationPrompt });
  }
}

/**
 * tokenizer_config.json's `chat_template` is a string, or a list of `{name, template}` from which transformers
 * takes the one named "default".
 */
export function pickChatTemplate(value: unknown, origin: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.filter((v): v is { name: string; template: string } =>
      v !== null && typeof v === 'object' && typeof v.name === 'string' && typeof v.template === 'string');
    return (named.find((v) => v.name === 'default') ?? named[0])?.template ?? null;
  }
  throw new Error(`${origin}: chat_template must be a string or a list of {name, template}`);
}
