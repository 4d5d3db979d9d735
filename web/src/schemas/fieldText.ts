// The node properties form in Brazilian Portuguese. Its labels and help come from the JSON Schemas
// in flow_schemas/ (a property's title, or its key made readable, and its description), which are
// English; this maps each English text to its translation. A text not found stays English:
// fieldText.test.ts checks every text of every node schema has one, so a schema change that adds
// one fails there until it is translated.
import type { Lang } from "../i18n";
import type { Field } from "./form";

const LABELS: Record<string, string> = {
  Action: "Ação",
  Address: "Endereço",
  Attribute: "Atributo",
  Body: "Corpo",
  Button: "Botão",
  Buttons: "Botões",
  Cases: "Casos",
  Department: "Departamento",
  Description: "Descrição",
  Expression: "Expressão",
  Filename: "Nome do arquivo",
  Flow: "Fluxo",
  Footer: "Rodapé",
  Header: "Cabeçalho",
  "Header location": "Local do cabeçalho",
  "Header media url": "URL da mídia do cabeçalho",
  Headers: "Cabeçalhos HTTP",
  "History messages": "Mensagens do histórico",
  Id: "Id",
  Index: "Posição",
  Label: "Rótulo",
  Language: "Idioma",
  Latitude: "Latitude",
  List: "Lista",
  "List button": "Botão da lista",
  Longitude: "Longitude",
  Max: "Máximo",
  "Max retries": "Máximo de tentativas",
  "Max tokens": "Máximo de tokens",
  "Media type": "Tipo de mídia",
  "Media url": "URL da mídia",
  Message: "Mensagem",
  Method: "Método",
  Min: "Mínimo",
  Model: "Modelo de IA",
  Name: "Nome",
  Operator: "Operador",
  Options: "Opções",
  "Options style": "Estilo das opções",
  Parameters: "Parâmetros",
  Params: "Parâmetros",
  Pattern: "Padrão",
  Priority: "Prioridade",
  Prompt: "Prompt",
  Provider: "Provedor",
  Query: "Parâmetros da URL",
  Reason: "Motivo",
  "Response mapping": "Mapeamento da resposta",
  "Retry message": "Mensagem de nova tentativa",
  Return: "Voltar depois",
  Rows: "Linhas",
  "Send response": "Enviar a resposta",
  "Status variable": "Variável do status",
  "System prompt": "Prompt de sistema",
  Tag: "Etiqueta",
  "Target node": "Nó de destino",
  Temperature: "Temperatura",
  Template: "Modelo de mensagem",
  Text: "Texto",
  "Timeout seconds": "Tempo limite (segundos)",
  Title: "Título",
  Url: "URL",
  Validation: "Validação",
  Value: "Valor",
  Variable: "Variável",
};

const HELP: Record<string, string> = {
  'Absent: "Opções" / "Options" / "Opciones" in the chatbot\'s language.':
    "Se vazio: \"Opções\" / \"Options\" / \"Opciones\", no idioma do chatbot.",
  "Absent: reply buttons when there are at most 3 options, else a list.":
    "Se vazio: botões de resposta com até 3 opções; acima disso, uma lista.",
  "An approved WhatsApp message template, sent instead of text, media, buttons or a list; the only message that reaches a customer outside the 24-hour window.":
    "Um modelo de mensagem aprovado do WhatsApp, enviado no lugar de texto, mídia, botões ou lista; a única mensagem que chega ao cliente fora da janela de 24 horas.",
  "Any JSON; every string in it is a template; object keys must not start with $.":
    "Qualquer JSON; cada texto nele aceita {{variáveis}}; as chaves não podem começar com $.",
  "Department name or id.": "Nome ou id do departamento.",
  "Expression.": "Uma expressão.",
  "File name shown for documents.": "Nome do arquivo mostrado em documentos.",
  "Python re syntax; the whole answer must match.": "Sintaxe re do Python; a resposta inteira deve casar.",
  "Reply buttons, display only.": "Botões de resposta, só para exibição.",
  "Template sent before ending.": "Texto enviado antes de encerrar; aceita {{variáveis}}.",
  "Template sent to the customer.": "Texto enviado ao cliente; aceita {{variáveis}}.",
  "Template.": "Aceita {{variáveis}}.",
  "Template. Absent: a built-in retry text in the chatbot's language.":
    "Aceita {{variáveis}}. Se vazio: um texto padrão de nova tentativa, no idioma do chatbot.",
  "Template: a TEXT header's {{1}}.": "Aceita {{variáveis}}: o {{1}} de um cabeçalho de texto.",
  "Template: the body.": "Aceita {{variáveis}}: o corpo da mensagem.",
  "Template: the place of a LOCATION header: its latitude and longitude, and an optional name and address.":
    "Aceita {{variáveis}} no nome e no endereço: o local de um cabeçalho de localização (latitude, longitude e, se quiser, nome e endereço).",
  "Template: the media of an IMAGE, VIDEO or DOCUMENT header (an absolute http:// or https:// URL, checked as media_url is).":
    "Aceita {{variáveis}}: a mídia de um cabeçalho de imagem, vídeo ou documento (uma URL http:// ou https:// completa, verificada como a URL da mídia).",
  "Template; an absolute http:// or https:// URL (checked by the compiler, and when sent once rendered).":
    "Aceita {{variáveis}}; uma URL http:// ou https:// completa (verificada ao salvar e, já preenchida, ao enviar).",
  "Template; default: the customer's last message.": "Aceita {{variáveis}}; se vazio: a última mensagem do cliente.",
  "Template; http or https.": "Aceita {{variáveis}}; http ou https.",
  "Templates: the body's {{1}}, {{2}}, ... in order, rendered when the message is sent.":
    "Aceitam {{variáveis}}: o {{1}}, {{2}}, ... do corpo, em ordem, preenchidos no envio.",
  "The template's language code.": "O código de idioma do modelo.",
  "The template's name as approved by Meta.": "O nome do modelo como a Meta o aprovou.",
  "The {{1}} of URL buttons, by the button's index in the template.":
    "O {{1}} dos botões de link, pela posição do botão no modelo.",
  "{variable: path}; path is dot-separated keys and [index], $ is the whole body.":
    "{variável: caminho}; o caminho são chaves separadas por ponto e [posição]; $ é a resposta inteira.",
};

// what each node does (a node schema's own description), shown above its form
const NODE_HELP: Record<string, string> = {
  "Changes state and continues: {action, params}. Handles: next.":
    "Muda o estado e continua: {action, params}. Saídas: next.",
  "Asks an AI model (OpenAI or Anthropic). Handles: success (required), error.":
    "Pergunta a um modelo de IA (OpenAI ou Anthropic). Saídas: success (obrigatória), error.",
  "Calls an HTTP API. 2xx takes success; any other status, a timeout or a network error takes error. Handles: success (required), error.":
    "Chama uma API HTTP. Um 2xx sai por success; outro status, tempo esgotado ou erro de rede, por error. Saídas: success (obrigatória), error.",
  "Chooses a branch. Simple form (variable, operator, value) or expression: handles true and false. Cases form: one handle per case id plus default; the first true case wins. All handles required.":
    "Escolhe um caminho. Forma simples (variável, operador, valor) ou expressão: saídas true e false. Forma de casos: uma saída por id de caso e mais default; vale o primeiro caso verdadeiro. Todas as saídas são obrigatórias.",
  "Ends the run (returns to the calling flow, if any). Handles: none.":
    "Encerra a execução (volta ao fluxo que chamou, se houver). Saídas: nenhuma.",
  "Hands the conversation to a human: the bot stops for it. Handles: none.":
    "Passa a conversa para um atendente: o bot para nela. Saídas: nenhuma.",
  "Goes to another node of this flow (target_node) or runs another flow (flow) and, with return (default true), comes back through next.":
    "Vai para outro nó deste fluxo (target_node) ou executa outro fluxo (flow) e, com return (padrão: true), volta por next.",
  "Sends a message and continues (never waits). Handles: next.":
    "Envia uma mensagem e continua (nunca espera). Saídas: next.",
  "Sends text, waits for the answer, validates it and stores it in variable. Handles: next, one per option id, invalid, timeout.":
    "Envia o texto, espera a resposta, valida e guarda em variable. Saídas: next, uma por id de opção, invalid, timeout.",
  "Where every conversation on the flow begins. Exactly one per flow. Handles: next (required).":
    "Onde toda conversa do fluxo começa. Exatamente um por fluxo. Saídas: next (obrigatória).",
};

/** A node schema's description (what the node does) in ``lang``. */
export function nodeHelp(description: string | undefined, lang: Lang): string | undefined {
  if (description === undefined || lang === "en") return description;
  return NODE_HELP[description] ?? description;
}

/** ``field`` with its label and help in ``lang`` (its nested fields too). */
export function translatedField(field: Field, lang: Lang): Field {
  if (lang === "en") return field;
  return {
    ...field,
    label: LABELS[field.label] ?? field.label,
    help: field.help === undefined ? undefined : HELP[field.help] ?? field.help,
    fields: field.fields?.map((f) => translatedField(f, lang)),
  };
}

/** Whether ``text`` (a schema's label, a property's help or a node's) has a Portuguese translation. */
export function hasTranslation(text: string, kind: "label" | "help" | "node"): boolean {
  return text in (kind === "label" ? LABELS : kind === "help" ? HELP : NODE_HELP);
}
