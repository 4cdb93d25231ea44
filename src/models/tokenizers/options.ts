/** The options of Tokenizer.encode and decode, checked: a misspelt key or a non-boolean was ignored or read by truthiness. */
import { checkArg, checkArgOptions } from '../../util/args.js';

export function checkEncodeOptions(options: { addBos?: boolean } | undefined): { addBos?: boolean } {
  const o = checkArgOptions('encode', options, ['addBos']);
  if (o.addBos !== undefined) checkArg('encode', 'options.addBos', o.addBos, 'boolean');
  return o;
}

export function checkDecodeOptions(options: { skipSpecial?: boolean } | undefined): { skipSpecial?: boolean } {
  const o = checkArgOptions('decode', options, ['skipSpecial']);
  if (o.skipSpecial !== undefined) checkArg('decode', 'options.skipSpecial', o.skipSpecial, 'boolean');
  return o;
}
