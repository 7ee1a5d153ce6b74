// The login form, and the first-run form that makes the administrator account.

import { api, ApiError } from '../api.js';
import { h, field, replace } from '../ui.js';

/**
 * @param {HTMLElement} root
 * @param {{setup: boolean, message?: string, onLogin: (session: {user: string, csrf: string}) => void}} params
 */
export function render(root, params) {
  const setup = !!params.setup;
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true,
    value: setup ? 'admin' : '', autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { type: 'password', name: 'password', required: true,
    autocomplete: setup ? 'new-password' : 'current-password', minlength: setup ? 8 : null });
  const confirm = setup ? h('input', { type: 'password', name: 'confirm', required: true, autocomplete: 'new-password', minlength: 8 }) : null;
  const status = h('p', { class: 'form-error', role: 'alert', 'aria-live': 'assertive' });
  const info = params.message ? h('p', { class: 'form-info', role: 'status' }, params.message) : null;
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, setup ? 'Create account' : 'Log in');

  const form = h('form', { class: 'login-form', novalidate: true, 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, setup ? 'Welcome to moor' : 'Log in to moor'),
    setup ? h('p', null, 'No account exists yet. Choose the administrator’s name and a password of at least 8 characters.') : null,
    info,
    field('Username', username),
    field('Password', password),
    confirm ? field('Repeat the password', confirm) : null,
    status,
    submit);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    replace(status);
    if (setup && password.value !== confirm.value) {
      replace(status, 'The two passwords differ.');
      confirm.focus();
      return;
    }
    if (setup && password.value.length < 8) {
      replace(status, 'The password must have at least 8 characters.');
      password.focus();
      return;
    }
    submit.disabled = true;
    try {
      const body = { username: username.value.trim(), password: password.value };
      await api.post(setup ? '/api/setup' : '/api/login', body);
      const session = await api.get('/api/session');
      params.onLogin(session);
    } catch (err) {
      let message = err.message;
      if (err instanceof ApiError && err.status === 429) message = `${err.message || 'Too many attempts'}: wait a moment and try again.`;
      replace(status, message);
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });

  root.appendChild(h('div', { class: 'login-wrap' }, form));
  (setup || !username.value ? username : password).focus();
  return () => {};
}
